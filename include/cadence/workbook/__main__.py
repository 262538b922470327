"""``python -m cadence.workbook``: see :mod:`cadence.workbook.cli`."""

from cadence.workbook.cli import main

raise SystemExit(main())
