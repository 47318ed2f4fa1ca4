/* Text for the generated Markdown references (docs/config.md, docs/output.md). */
#ifndef SM_MARKDOWN_H
#define SM_MARKDOWN_H

#include <stdio.h>

/* Writes s for a table cell: '|' escaped so that it does not end the cell. */
void md_cell(FILE *md, const char *s);

#endif
