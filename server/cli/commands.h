/* The dragoman subcommands. Each lives in its own server/cmd_<name>.c and takes argc/argv
 * with argv[0] = the subcommand name; it returns a process exit status. server/main.c
 * dispatches to them and is the only place that exits. */
#ifndef DG_COMMANDS_H
#define DG_COMMANDS_H

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} dg_command;

int cmd_translate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_inspect(int argc, char **argv);

#endif
