/* DESIGN: server/api/openapi.json is the API's single description; it is embedded into the binary
 * verbatim (GNU as .incbin, path from CMake's DG_OPENAPI_PATH) so GET /openapi.json needs no
 * file at run time and can never drift from the copy in the repository. */
__asm__(".section .rodata\n"
        ".global dg_openapi_json\n"
        ".type dg_openapi_json, @object\n"
        "dg_openapi_json:\n"
        ".incbin \"" DG_OPENAPI_PATH "\"\n"
        ".byte 0\n"
        ".size dg_openapi_json, . - dg_openapi_json\n"
        ".previous\n");
