{#- Cost per install per period (day, ISO week, month) × partner × platform × country. Both CPIs divide by
    the same count, new installs (reinstalls excluded):
      direct CPI  = cost of the install events / installs
      blended CPI = all spend (impressions + clicks + installs + reinstalls) / installs
    Costs are never negative, so all spend ≥ install cost and blended ≥ direct, by construction (rounding
    both to micro-dollars keeps the order). NULL where there were no installs. Incremental like mmp_installs. -#}

{{ cadence.mmp_mart([
    'installs',
    'reinstalls',
    'impression_cost_usd',
    'click_cost_usd',
    'install_cost_usd',
    'reinstall_cost_usd',
    'total_cost_usd as total_spend_usd',
    'cast(round(' ~ cadence.safe_divide('install_cost_usd', 'installs') ~ ', 6) as ' ~ dbt.type_numeric() ~ ')'
        ~ ' as direct_cpi_usd',
    'cast(round(' ~ cadence.safe_divide('total_cost_usd', 'installs') ~ ', 6) as ' ~ dbt.type_numeric() ~ ')'
        ~ ' as blended_cpi_usd',
]) }}
