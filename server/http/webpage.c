/* DESIGN: server/http/index.html, the translation page served at GET /, is embedded into the binary
 * verbatim (GNU as .incbin, path from CMake's DG_INDEX_PATH), as server/api/openapi.c embeds the API
 * description: no build step, no file to install, and the page works without network access. */
__asm__(".section .rodata\n"
        ".global dg_index_html\n"
        ".type dg_index_html, @object\n"
        "dg_index_html:\n"
        ".incbin \"" DG_INDEX_PATH "\"\n"
        ".byte 0\n"
        ".size dg_index_html, . - dg_index_html\n"
        ".previous\n");
