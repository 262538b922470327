{{ config(materialized='table') }}

{#- One row per user seen in telemetry. First-touch platform, country, app version and device are those of
    the user's first session taken as a whole (one row), never the min() of each column separately. -#}

with

sessions as (

    select * from {{ ref('fct_sessions') }}

),

ranked as (

    select
        *,
        row_number() over (partition by user_id order by session_start, session_id) as session_rank
    from sessions

),

lifetime as (

    select
        user_id,
        min(session_start) as first_seen_at,
        max(session_end) as last_seen_at,
        count(*) as lifetime_sessions,
        sum(events) as lifetime_events
    from sessions
    group by user_id

),

final as (

    select
        -- ids
        lifetime.user_id,

        -- first touch (the first session as a whole)
        ranked.session_id as first_session_id,
        ranked.platform as first_platform,
        ranked.country as first_country,
        ranked.app_version as first_app_version,
        ranked.device_id as first_device_id,

        -- timestamps (UTC)
        lifetime.first_seen_at,
        lifetime.last_seen_at,

        -- lifetime
        lifetime.lifetime_sessions,
        lifetime.lifetime_events
    from lifetime
    inner join ranked on lifetime.user_id = ranked.user_id and ranked.session_rank = 1

)

select * from final
