{{ config(materialized='table') }}

{#- Day x user: sessions that started that day, their average length and events per session, and whether
    the user came back (started a session) one day and seven days later. -#}

with

sessions as (

    select * from {{ ref('fct_sessions') }}

),

user_days as (

    select
        session_date as activity_date,
        user_id,
        count(*) as sessions,
        sum(duration_s) as total_session_s,
        sum(events) as events
    from sessions
    group by session_date, user_id

),

final as (

    select
        -- keys
        user_days.activity_date,
        user_days.user_id,

        -- measures
        user_days.sessions,
        user_days.total_session_s / user_days.sessions as avg_session_s,
        user_days.events,
        cast(user_days.events as {{ cadence.double_type() }}) / user_days.sessions as events_per_session,

        -- return
        d1.user_id is not null as returned_d1,
        d7.user_id is not null as returned_d7
    from user_days
    left join user_days as d1
        on user_days.user_id = d1.user_id
        and d1.activity_date = {{ dbt.dateadd('day', 1, 'user_days.activity_date') }}
    left join user_days as d7
        on user_days.user_id = d7.user_id
        and d7.activity_date = {{ dbt.dateadd('day', 7, 'user_days.activity_date') }}

)

select * from final
