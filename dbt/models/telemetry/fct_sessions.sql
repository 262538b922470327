{{
    config(
        materialized='incremental',
        unique_key='session_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        post_hook=["{{ cadence.delete_merged_sessions() }}"],
    )
}}

{#- Sessions per user: a new session starts after more than `telemetry_session_gap_seconds` (30 minutes by
    default, from config) without an event, across file and day boundaries. The session id is a hash of the
    user and the session's start, so it is the same on every rebuild.

    Incrementally, only users with events ingested in this run are sessionized again (over their whole
    history, so a session is always built from all its events), and only the sessions holding one of those
    events are written: a late event re-opens exactly the sessions it touches. When it bridges two
    sessions, the merged session keeps the earlier start (same id, updated by the merge) and the post-hook
    removes the later one, whose start now lies inside it. -#}

{%- set gap_seconds = var('telemetry_session_gap_seconds', 1800) | int -%}

with

events as (

    select * from {{ ref('stg_telemetry_events') }}

),

-- read by incremental runs only (hence noqa ST03)
new_events as (  -- noqa: ST03

    select user_id, event_time
    from events
    where user_id is not null and {{ cadence.telemetry_ingested_in_window() }}

),

user_events as (

    select *
    from events
    {% if is_incremental() %}
    where user_id in (select user_id from new_events)
    {% else %}
    where user_id is not null
    {% endif %}

),

gaps as (

    select
        *,
        lag(event_time) over (partition by user_id order by event_time, event_id) as previous_event_time
    from user_events

),

numbered as (

    select
        *,
        sum(
            case
                when previous_event_time is null then 1
                when {{ dbt.datediff('previous_event_time', 'event_time', 'millisecond') }}
                    > {{ gap_seconds * 1000 }} then 1
                else 0
            end
        ) over (
            partition by user_id order by event_time, event_id rows between unbounded preceding and current row
        ) as session_number
    from gaps

),

ordered as (

    select
        *,
        row_number() over (partition by user_id, session_number order by event_time, event_id) as position
    from numbered

),

first_events as (

    select
        user_id,
        session_number,
        device_id,
        platform,
        country,
        app_version
    from ordered
    where position = 1

),

aggregated as (

    select
        user_id,
        session_number,
        min(event_time) as session_start,
        max(event_time) as session_end,
        count(*) as events,
        count(distinct screen) as screens,
        count(distinct case when event_type = 'level_start' then level end) as levels_played,
        sum(case when event_type = 'purchase' then 1 else 0 end) as purchases,
        max(_ingested_at) as last_ingested_at
    from ordered
    group by user_id, session_number

),

sessions as (

    select
        -- ids
        {%- set start_ms = "cast(" ~ cadence.epoch_ms('aggregated.session_start') ~ " as " ~ dbt.type_string() ~ ")" %}
        {{ dbt.hash(dbt.concat(["aggregated.user_id", "'|'", start_ms])) }} as session_id,
        aggregated.user_id,

        -- first-touch attributes of the session (its first event's visit)
        first_events.device_id,
        first_events.platform,
        first_events.country,
        first_events.app_version,

        -- timestamps (UTC)
        aggregated.session_start,
        aggregated.session_end,
        cast(aggregated.session_start as date) as session_date,

        -- measures
        {{ dbt.datediff('aggregated.session_start', 'aggregated.session_end', 'millisecond') }} / 1000.0  -- noqa: LT05
            as duration_s,
        aggregated.events,
        aggregated.screens,
        aggregated.levels_played,
        aggregated.purchases,
        aggregated.last_ingested_at
    from aggregated
    inner join first_events
        on aggregated.user_id = first_events.user_id
        and aggregated.session_number = first_events.session_number

),

final as (

    select * from sessions
    {% if is_incremental() %}
    where exists (
        select 1
        from new_events
        where new_events.user_id = sessions.user_id
            and new_events.event_time >= sessions.session_start
            and new_events.event_time <= sessions.session_end
    )
    {% endif %}

)

select * from final
