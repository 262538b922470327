{#- MMP events, typed, one row per event_id. An incremental run reads only its window's files: every event
    lies inside its file's window (validated before landing), so selecting the window's event times selects
    exactly those files' events. A re-delivered event is kept once; an event never changes, so any copy does.
    The rest of the pipeline recomputes from this table, never from the lake. -#}

{#- A lake that has never received an MMP window (a warehouse built before the mmp DAG ran) stages no
    events instead of failing (relation_or_empty). -#}

with

lake_events as (

    select *
    from {{ cadence.relation_or_empty(source('mmp_lake', 'events'), {
        'event_id': dbt.type_bigint(), 'event_type': dbt.type_string(), 'event_time': dbt.type_timestamp(),
        'partner': dbt.type_string(), 'platform': dbt.type_string(), 'country': dbt.type_string(),
        'campaign_id': dbt.type_string(), 'impression_id': dbt.type_bigint(), 'click_id': dbt.type_bigint(),
        'user_id': dbt.type_string(), 'cost_usd': dbt.type_numeric(), 'dt': 'date',
    }) }} as lake_events
    {% if is_incremental() %}
    where {{ cadence.in_window('event_time', partition_column='dt') }}
    {% endif %}

),

typed as (

    select
        -- ids
        cast(event_id as {{ dbt.type_bigint() }}) as event_id,
        cast(impression_id as {{ dbt.type_bigint() }}) as impression_id,
        cast(click_id as {{ dbt.type_bigint() }}) as click_id,
        user_id,

        -- dimensions
        lower(event_type) as event_type,
        lower(partner) as partner,
        lower(platform) as platform,
        upper(country) as country,
        campaign_id,

        -- money: exact, micro-dollars
        cast(cost_usd as {{ dbt.type_numeric() }}) as cost_usd,

        -- timestamps (UTC)
        cast(event_time as {{ dbt.type_timestamp() }}) as event_time

    from lake_events

),

deduplicated as (

    select
        *,
        row_number() over (partition by event_id order by event_time) as copy_number
    from typed

),

final as (

    select
        event_id,
        event_type,
        event_time,
        cast(event_time as date) as event_date,
        partner,
        platform,
        country,
        campaign_id,
        impression_id,
        click_id,
        user_id,
        cost_usd
    from deduplicated
    where copy_number = 1

)

select * from final
