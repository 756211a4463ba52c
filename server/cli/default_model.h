/* Where the bundled demo model lives when no --model is given (serve and translate). */
#ifndef DG_DEFAULT_MODEL_H
#define DG_DEFAULT_MODEL_H

/* The first existing of: <executable dir>/../share/dragoman/models/demo-en-de (installed
 * layout, e.g. the Docker image) and the source tree's models/demo-en-de (a build run in
 * place). When neither exists, the source-tree path, so the error names where it should be.
 * The string is static. */
const char *dg_default_model_dir(void);

#endif
