/* PCP position inside its 2-Delta-d cage (docs/model.md section 12), for snapshots.
 *
 * The closed loop runs over the four vertices of the tetrahedron inscribed in
 * the cage cube, A = (+,+,+), B = (+,-,-), C = (-,+,-), D = (-,-,+) (times
 * Delta d). The four in-plane face diagonals have midpoints facing +x (AB),
 * +y (AC), -x (CD) and -y (BD), so the loop that visits them in the order of
 * dir(q, sigma) (docs/model.md section 3) is B->A->C->D->B for sigma = +1 (anticlockwise
 * seen from +z: right-handed) and its reverse A->B->D->C->A for sigma = -1;
 * both start on the +x diagonal as docs/model.md requires.
 * Angle line lambda sits at fraction lambda Delta-Omega / 90 deg along its
 * diagonal: 15 spacings of Delta-Omega, and the last line stops one trap
 * angle (0.0198 deg) short of the vertex, next to the two-electron trap. */
#ifndef SM_PCP_H
#define SM_PCP_H

#include "core/model.h"

/* (x, y, z) offset of the PCP from the site centre, in units of sigma. */
void pcp_position(int phase, int sigma, float out[3]);

/* Positions of all N PCPs into xyz[3 N] (row-major [Ly][Lx][3]). */
void pcp_positions(const model_state *s, float *xyz);

#endif
