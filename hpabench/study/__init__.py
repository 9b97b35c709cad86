"""Studies: scenarios × variants × repetitions, run unattended in a fair order, one report."""
