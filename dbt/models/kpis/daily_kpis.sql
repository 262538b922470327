{{
    config(
        **cadence.kpis_replace_days('kpi_date'),
    )
}}

{#- Daily KPIs per UTC day, for the whole game (slice 'all') and per country x platform (slice
    'US/ios', ...; attributes from the user panel row of that day, see daily_user_panel).

    Retention: the cohort of day d is the users whose install day is d (sliced by their attributes on d).
    retention_d1 = share of the cohort active on d+1, retention_d7 = on d+7, reported on the install day d
    and NULL until d+1 / d+7 is a complete day (before the run's window end), or when the cohort is empty.
    So a run also recomputes the 7 cohort days before its window. Every day of the window has an 'all'
    row, with zeros on a day without any activity, so an outage shows as a drop rather than a gap. -#}

{%- set window = cadence.kpis_window() %}
{%- set kpi_window = cadence.kpis_window(extra_days_before=cadence.kpis_retention_horizon()) %}
{#- The run's window end holds under a full refresh too: days from it on are not reported, and only the
    days before it are complete. -#}
{%- set run_end = cadence.window_bound('end') %}
{#- Days before report_before are reported: the window end's day, or the day after it when the window
    ends inside a day (an hourly run reports its own day, which is not complete yet). -#}
{%- if run_end and run_end[11:19] not in ('', '00:00:00') %}
    {%- set report_before = (modules.datetime.date.fromisoformat(run_end[:10])
        + modules.datetime.timedelta(days=1)).isoformat() %}
{%- elif run_end %}
    {%- set report_before = run_end[:10] %}
{%- endif %}

with

panel as (

    select * from {{ ref('daily_user_panel') }}
    where {{ cadence.kpis_days_between('activity_date', kpi_window) }}
    {% if run_end %}
        and activity_date < {{ cadence.kpis_date(report_before) }}
    {% endif %}

),

installs as (

    select user_id, install_date
    from {{ ref('installs') }}
    where {{ cadence.kpis_days_between('install_date', kpi_window) }}

),

complete_days as (

    {#- Days before this one are complete: the run's window end (also under a full refresh), or without
        a window the newest day with activity, which may still be filling up and so is not complete. #}
    {% if run_end %}
    select {{ cadence.kpis_date(run_end[:10]) }} as complete_before
    {% else %}
    select max(activity_date) as complete_before
    from {{ ref('daily_user_panel') }}
    {% endif %}

),

days as (

    select distinct kpi_date
    from (
        select activity_date as kpi_date from panel
        {%- for day in cadence.kpis_days(window) %}
        union all
        select {{ cadence.kpis_date(day) }} as kpi_date
        {%- endfor %}
    ) as candidate_days

),

slices as (

    select true as is_total
    union all
    select false as is_total

),

user_day_slices as (

    select
        panel.activity_date as kpi_date,
        panel.total_spins,
        panel.total_purchases,
        panel.revenue_usd,
        case when slices.is_total then 'all' else panel.country end as country,
        case when slices.is_total then 'all' else panel.platform end as platform,
        case when installs.user_id is null then 0 else 1 end as is_new_install
    from panel
    cross join slices
    left join installs
        on panel.user_id = installs.user_id
        and panel.activity_date = installs.install_date

),

activity as (

    select
        kpi_date,
        country,
        platform,
        count(*) as dau,
        sum(is_new_install) as new_installs,
        sum(case when total_purchases > 0 then 1 else 0 end) as paying_users,
        sum(revenue_usd) as revenue_usd,
        sum(total_spins) as total_spins
    from user_day_slices
    group by kpi_date, country, platform

),

cohort_members as (

    select
        installs.install_date,
        install_day.country,
        install_day.platform,
        case when day_1.user_id is null then 0 else 1 end as is_retained_d1,
        case when day_7.user_id is null then 0 else 1 end as is_retained_d7
    from installs
    inner join panel as install_day
        on installs.user_id = install_day.user_id
        and installs.install_date = install_day.activity_date
    left join panel as day_1
        on installs.user_id = day_1.user_id
        and day_1.activity_date = {{ cadence.kpis_add_days('installs.install_date', 1) }}
    left join panel as day_7
        on installs.user_id = day_7.user_id
        and day_7.activity_date = {{ cadence.kpis_add_days('installs.install_date', 7) }}

),

cohorts as (

    select
        cohort_members.install_date,
        case when slices.is_total then 'all' else cohort_members.country end as country,
        case when slices.is_total then 'all' else cohort_members.platform end as platform,
        sum(cohort_members.is_retained_d1) as retained_d1,
        sum(cohort_members.is_retained_d7) as retained_d7
    from cohort_members
    cross join slices
    group by 1, 2, 3

),

keys as (

    select kpi_date, 'all' as country, 'all' as platform from days
    union all
    select kpi_date, country, platform from activity
    where country != 'all'

),

final as (

    select
        -- grain
        keys.kpi_date,
        case
            when keys.country = 'all' then 'all'
            else {{ dbt.concat(['keys.country', "'/'", 'keys.platform']) }}
        end as slice,
        keys.country,
        keys.platform,

        -- counts
        cast(coalesce(activity.dau, 0) as {{ dbt.type_bigint() }}) as dau,
        cast(coalesce(activity.new_installs, 0) as {{ dbt.type_bigint() }}) as new_installs,
        cast(coalesce(activity.paying_users, 0) as {{ dbt.type_bigint() }}) as paying_users,
        -- retained counts are unknown (NULL), like their ratios, until day +1 / +7 is complete
        case
            when {{ cadence.kpis_add_days('keys.kpi_date', 1) }} < complete_days.complete_before
                then cast(coalesce(cohorts.retained_d1, 0) as {{ dbt.type_bigint() }})
        end as retained_d1,
        case
            when {{ cadence.kpis_add_days('keys.kpi_date', 7) }} < complete_days.complete_before
                then cast(coalesce(cohorts.retained_d7, 0) as {{ dbt.type_bigint() }})
        end as retained_d7,

        -- sums
        cast(coalesce(activity.revenue_usd, 0) as {{ cadence.money_type() }}) as revenue_usd,
        cast(coalesce(activity.total_spins, 0) as {{ cadence.double_type() }}) as total_spins,

        -- ratios (NULL, never an error, on a zero denominator)
        cast({{ cadence.safe_divide('activity.revenue_usd', 'activity.dau') }} as {{ cadence.double_type() }})
            as arpdau,
        cast({{ cadence.safe_divide('activity.revenue_usd', 'activity.paying_users') }} as {{ cadence.double_type() }})
            as arppu,
        cast({{ cadence.safe_divide('activity.total_spins', 'activity.dau') }} as {{ cadence.double_type() }})
            as spins_per_dau,
        case
            when {{ cadence.kpis_add_days('keys.kpi_date', 1) }} < complete_days.complete_before
                then cast(
                    {{ cadence.safe_divide('cohorts.retained_d1', 'activity.new_installs') }}
                    as {{ cadence.double_type() }}
                )
        end as retention_d1,
        case
            when {{ cadence.kpis_add_days('keys.kpi_date', 7) }} < complete_days.complete_before
                then cast(
                    {{ cadence.safe_divide('cohorts.retained_d7', 'activity.new_installs') }}
                    as {{ cadence.double_type() }}
                )
        end as retention_d7

    from keys
    cross join complete_days
    left join activity
        on keys.kpi_date = activity.kpi_date
        and keys.country = activity.country
        and keys.platform = activity.platform
    left join cohorts
        on keys.kpi_date = cohorts.install_date
        and keys.country = cohorts.country
        and keys.platform = cohorts.platform

)

select * from final
