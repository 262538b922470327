{#- Funnel counts and exact costs per period, at every grain (day, ISO week, month) × partner × platform ×
    country: the one grain model every mart reads. An incremental run recomputes, whole and from all staged
    events, exactly the periods that contain an event of its window; other periods are not touched. Staged
    events are never removed, so a recomputed period never loses a row and a merge on the key is exact. -#}

with

events as (

    select * from {{ ref('stg_mmp_events') }}

),

{% if is_incremental() %}
touched_periods as (

    {% for grain in cadence.period_grains() %}
    select distinct
        '{{ grain }}' as grain,
        {{ cadence.period_start(grain, 'event_time') }} as period_start
    from events
    where {{ cadence.in_window('event_time') }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),
{% endif %}

events_by_period as (

    {% for grain in cadence.period_grains() %}
    select
        '{{ grain }}' as grain,
        {{ cadence.period_start(grain, 'event_time') }} as period_start,
        partner,
        platform,
        country,
        event_type,
        cost_usd
    from events
    {% if is_incremental() %}
    where event_date >= (select min(period_start) from touched_periods)
    {% endif %}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

recomputed as (

    select events_by_period.*
    from events_by_period
    {% if is_incremental() %}
    inner join touched_periods
        on events_by_period.grain = touched_periods.grain
        and events_by_period.period_start = touched_periods.period_start
    {% endif %}

),

final as (

    select
        -- grain
        {{ cadence.period_key() | join(',\n        ') }},

        -- counts
        {% for event_type in ['impression', 'click', 'install', 'reinstall'] %}
        cast(sum(case when event_type = '{{ event_type }}' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as {{ event_type }}s,
        {% endfor %}

        -- costs (exact, USD)
        {% for event_type in ['impression', 'click', 'install', 'reinstall'] %}
        cast(sum(case when event_type = '{{ event_type }}' then cost_usd else 0 end) as {{ dbt.type_numeric() }})
            as {{ event_type }}_cost_usd,
        {% endfor %}
        cast(sum(cost_usd) as {{ dbt.type_numeric() }}) as total_cost_usd,

        -- lineage
        {% if cadence.window_bound('end') %}
        cast('{{ cadence.window_bound("end") }}' as {{ dbt.type_timestamp() }}) as computed_window_end
        {% else %}
        cast(null as {{ dbt.type_timestamp() }}) as computed_window_end
        {% endif %}

    from recomputed
    group by {{ cadence.period_key() | join(', ') }}

)

select * from final
