{#- Click-through rate per period (day, ISO week, month) × partner × platform × country: clicks divided by
    impressions, as a ratio in [0, 1] and as a percentage. Incremental like mmp_installs. -#}

{%- set ctr = cadence.safe_divide('clicks', 'impressions') %}

{{ cadence.mmp_mart([
    'impressions',
    'clicks',
    ctr ~ ' as ctr',
    'round(100 * (' ~ ctr ~ '), 2) as ctr_pct',
]) }}
