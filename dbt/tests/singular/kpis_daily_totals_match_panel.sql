{#- Every 'all' row of daily_kpis equals its day of the user panel (DAU, payers, revenue, spins), and the
    country x platform slices of a day add up to its 'all' row. Returns the offending days. -#}
with

panel_days as (

    select
        activity_date as kpi_date,
        count(*) as dau,
        sum(case when total_purchases > 0 then 1 else 0 end) as paying_users,
        sum(revenue_usd) as revenue_usd,
        sum(total_spins) as total_spins
    from {{ ref('daily_user_panel') }}
    group by activity_date

),

totals as (

    select * from {{ ref('daily_kpis') }}
    where slice = 'all'

),

segments as (

    select
        kpi_date,
        sum(dau) as dau,
        sum(new_installs) as new_installs,
        sum(paying_users) as paying_users,
        sum(revenue_usd) as revenue_usd
    from {{ ref('daily_kpis') }}
    where slice != 'all'
    group by kpi_date

)

select totals.kpi_date
from totals
left join panel_days on totals.kpi_date = panel_days.kpi_date
left join segments on totals.kpi_date = segments.kpi_date
where totals.dau != coalesce(panel_days.dau, 0)
    or totals.paying_users != coalesce(panel_days.paying_users, 0)
    or totals.revenue_usd != coalesce(panel_days.revenue_usd, 0)
    or abs(totals.total_spins - coalesce(panel_days.total_spins, 0)) > 1e-6
    or totals.dau != coalesce(segments.dau, 0)
    or totals.new_installs != coalesce(segments.new_installs, 0)
    or totals.paying_users != coalesce(segments.paying_users, 0)
    or totals.revenue_usd != coalesce(segments.revenue_usd, 0)
