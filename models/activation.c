/* Activation names of config.json (activation_function, T5's dense_act_fn) and the engine's
 * enum: a file of its own so the config parser links without the architecture tables (the
 * config fuzz target builds config.c alone). */
#include <string.h>

#include "models/arch.h"

static const struct {
    const char *name;
    dg_activation act;
} activations[] = {
    {"swish", DG_ACT_SILU}, {"silu", DG_ACT_SILU}, {"relu", DG_ACT_RELU}, {"gelu", DG_ACT_GELU},
    {"gelu_new", DG_ACT_GELU_TANH}, {"gelu_pytorch_tanh", DG_ACT_GELU_TANH},
};

dg_code dg_activation_parse(const char *name, dg_activation *a, dg_err *err)
{
    for (size_t i = 0; i < sizeof activations / sizeof *activations; i++)
        if (!strcmp(name, activations[i].name)) {
            *a = activations[i].act;
            return DG_OK;
        }
    return dg_err_set(err, DG_E_UNSUPPORTED,
                      "activation_function '%s' is not supported (supported: swish, silu, relu, gelu, "
                      "gelu_new, gelu_pytorch_tanh)",
                      name);
}

const char *dg_activation_name(dg_activation a)
{
    switch (a) {
    case DG_ACT_SILU: return "silu";
    case DG_ACT_RELU: return "relu";
    case DG_ACT_GELU: return "gelu";
    case DG_ACT_GELU_TANH: return "gelu_tanh";
    }
    return "?";
}
