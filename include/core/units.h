/* Units of the output files: the one place that spells them. The strings
 * follow the H5MD units grammar (unit factors separated by spaces, a power
 * as a signed integer after a symbol, "1" for a pure number), so that a
 * reader can parse every `unit` attribute the same way. The symbols are
 * those of docs/model.md: energies in eps0, temperatures in eps0/k_B (kB
 * being Boltzmann's constant), lengths in HSM diameters sigma, Monte Carlo
 * time in sweeps. */
#ifndef SM_UNITS_H
#define SM_UNITS_H

#define UNIT_NONE "1"                 /* fractions, counts, levels, spins */
#define UNIT_ENERGY "eps0"
#define UNIT_TEMPERATURE "eps0 kB-1"
#define UNIT_TIME "sweep"
#define UNIT_RATE "sweep-1"           /* events per sweep */
#define UNIT_LENGTH "sigma"
#define UNIT_AREA "sigma+2"
#define UNIT_HEAT_CAPACITY "kB"       /* per site */
#define UNIT_SUSCEPTIBILITY "eps0-1 kB"
#define UNIT_SECONDS "s"              /* wall clock */
#define UNIT_NANOSECONDS "ns"

/* The unit system named in /h5md/modules/units. */
#define UNIT_SYSTEM "softmatrix reduced units: eps0, kB, sigma, sweep"

#endif
