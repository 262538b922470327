{{ config(materialized='table') }}

{#- Visits per day (of their start), platform, device model and OS version, with distinct users. -#}

with

visits as (

    select * from {{ ref('stg_telemetry_visits') }}

),

final as (

    select
        cast(started_at as date) as visit_date,
        platform,
        device_model,
        os_version,
        count(*) as visits,
        count(distinct user_id) as users
    from visits
    where user_id is not null
    group by cast(started_at as date), platform, device_model, os_version

)

select * from final
