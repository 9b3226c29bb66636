"""One module per evidence file family: its row type, its writer and its figures.

Each module owns a CSV format end to end: the assets hand it raw measurements, it writes the
sample rows and the statistic rows computed from them, and it reads the file back into the
figures the gate reports. The validator calls the same readers, so a figure in the gate and
the figure recomputed from the file can only differ if one of the two files was edited.

Sample sizes travel with the figures, by name: a rate figure ``X`` comes with ``X__k`` (the
successes) and ``X__n`` (the trials), so the gate can give its Wilson interval and judge the
threshold by the interval's bound; a percentile figure ``X`` comes with ``X__n``.
"""

from __future__ import annotations

NOT_MEASURED = "NOT_MEASURED"

__all__ = ["NOT_MEASURED"]
