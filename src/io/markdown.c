/* Markdown output. */
#include "io/markdown.h"

void md_cell(FILE *md, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputc('\\', md);
        fputc(*s, md);
    }
}
