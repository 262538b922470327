{{ config(materialized='table') }}

{#- The daily summary of user_engagement: active users, sessions, average session length, events per
    session, and the share of the day's users who returned one and seven days later. -#}

with

user_days as (

    select * from {{ ref('user_engagement') }}

),

final as (

    select
        activity_date,
        count(*) as active_users,
        sum(sessions) as sessions,
        sum(avg_session_s * sessions) / sum(sessions) as avg_session_s,
        cast(sum(events) as {{ cadence.double_type() }}) / sum(sessions) as events_per_session,
        avg(case when returned_d1 then 1.0 else 0.0 end) as d1_return_rate,
        avg(case when returned_d7 then 1.0 else 0.0 end) as d7_return_rate
    from user_days
    group by activity_date

)

select * from final
