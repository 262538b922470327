{#- Installs and reinstalls per period (day, ISO week, month) × partner × platform × country. Incremental:
    only the period rows the run recomputed in mmp_period_totals. -#}

{{ cadence.mmp_mart([
    'installs',
    'reinstalls',
    'installs + reinstalls as conversions',
]) }}
