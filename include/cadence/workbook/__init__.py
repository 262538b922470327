"""Import a MOC-style Excel workbook (the game team's hand-off format) into the same gold as the cadences.

The workbook has two sheets, read as-is:

* ``Spins Hourly``: ``date`` (the hour), ``userId``, ``country``, ``total_spins`` (numeric, fractional values
  kept), then the analyst's output columns (``total revenue``, ``total purchases``, ``Average revenue per
  purchase``, ``Total Daily Revenue``), whose content (an instruction text) is ignored.
* ``Purchases``: ``date`` (purchase time), ``userId``, ``revenue`` (text ``PriceInUSD=4.99``),
  ``transaction_id``.

An import reads the sheets (:mod:`~cadence.workbook.reader`), maps them onto the bronze source schemas
(:mod:`~cadence.workbook.mapping`), validates them with Great Expectations and writes the Data Docs
(:mod:`~cadence.workbook.checks`), lands bronze and quarantine for the workbook's range
(:mod:`~cadence.workbook.importer`); the cadences' own dbt models then build silver and gold for that range,
and :mod:`~cadence.workbook.export` writes the gold rows next to the workbook (CSV and a filled-in ``.xlsx``).
The ``workbook_import`` DAG and ``cadence-workbook`` do the same.

Semantics (tested in tests/test_workbook_import.py):

* Dates are UTC (Excel date-times carry no zone). The range is the workbook's own whole UTC days unless one
  is given (whole hours); rows outside it are counted and skipped.
* Several ``Spins Hourly`` rows of one hour x user x country are partial records: they are summed.
* A ``transaction_id`` counts once: its first row is the purchase, later rows (the identical duplicates of
  real files) are quarantined as repeats.
* A purchase belongs to the hour it falls in, and to the country of that user's spins row in that hour
  (the country with most spins when there are several), else to ``UNKNOWN``; an hour with purchases and no
  spins is a gold row with 0 spins.
* ``total_revenue_per_user_daily`` sums the user's whole UTC day (every hour and country).
* Non-integer spin counts are a warning (reported, kept as delivered); never rounded.
"""


class WorkbookError(ValueError):
    """The workbook cannot be imported as it is; the message names the file, the sheet or column, and why.

    Raised before anything is written: a refused workbook leaves the lake and the warehouse unchanged.
    """
