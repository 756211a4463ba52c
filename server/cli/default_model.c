#include "server/cli/default_model.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEMO_NAME "demo-en-de"

static int is_dir(const char *p)
{
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

const char *dg_default_model_dir(void)
{
    static char installed[PATH_MAX + 64];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(installed, sizeof installed, "%s/../share/dragoman/models/" DEMO_NAME, exe);
            if (is_dir(installed))
                return installed;
        }
    }
    return DG_SOURCE_DIR "/models/" DEMO_NAME;
}
