#include "common/error.h"
#include "tests/test.h"

static void test_set_and_prefix(void)
{
    dg_err err = {0};
    CHECK_INT_EQ(dg_err_set(&err, DG_E_FORMAT, "tensor %s: %d bytes", "x", 12), DG_E_FORMAT);
    CHECK_STR_EQ(err.msg, "tensor x: 12 bytes");
    CHECK_INT_EQ(dg_err_prefix(&err, "file %s", "m.safetensors"), DG_E_FORMAT);
    CHECK_STR_EQ(err.msg, "file m.safetensors: tensor x: 12 bytes");
    CHECK_STR_EQ(dg_code_name(err.code), "format");
    /* a NULL err must be accepted everywhere */
    CHECK_INT_EQ(dg_err_set(NULL, DG_E_IO, "dropped"), DG_E_IO);
    CHECK_INT_EQ(dg_err_prefix(NULL, "x"), DG_OK);
}

static void test_long_message_truncates(void)
{
    dg_err err = {0};
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    dg_err_set(&err, DG_E_INPUT, "%s", big);
    CHECK_INT_EQ(strlen(err.msg), sizeof err.msg - 1);
}

int main(void)
{
    test_set_and_prefix();
    test_long_message_truncates();
    return test_summary();
}
