{#- Every weekly and monthly row of mmp_period_totals equals the sum of its daily rows (counts and exact
    costs). The days are grouped with period_start itself, so a week that does not start on a Monday, or a
    month not on its first day, has no matching sum and is returned too. -#}
with

totals as (

    select * from {{ ref('mmp_period_totals') }}

),

days_summed as (

    {% for grain in cadence.period_grains() if grain != 'day' %}
    select
        '{{ grain }}' as grain,
        {{ cadence.period_start(grain, 'period_start') }} as period_start,
        partner,
        platform,
        country,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(installs) as installs,
        sum(reinstalls) as reinstalls,
        sum(total_cost_usd) as total_cost_usd
    from totals
    where grain = 'day'
    group by 1, 2, 3, 4, 5
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

periods as (

    select * from totals
    where grain != 'day'

)

select
    coalesce(periods.grain, days_summed.grain) as grain,
    coalesce(periods.period_start, days_summed.period_start) as period_start,
    coalesce(periods.partner, days_summed.partner) as partner,
    coalesce(periods.platform, days_summed.platform) as platform,
    coalesce(periods.country, days_summed.country) as country
from periods
full outer join days_summed
    on periods.grain = days_summed.grain
    and periods.period_start = days_summed.period_start
    and periods.partner = days_summed.partner
    and periods.platform = days_summed.platform
    and periods.country = days_summed.country
where periods.grain is null
    or days_summed.grain is null
    or periods.impressions != days_summed.impressions
    or periods.clicks != days_summed.clicks
    or periods.installs != days_summed.installs
    or periods.reinstalls != days_summed.reinstalls
    or periods.total_cost_usd != days_summed.total_cost_usd
