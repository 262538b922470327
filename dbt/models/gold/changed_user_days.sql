{{ config(materialized='ephemeral', tags=['gold']) }}

{#- The user-days whose gold rows must be recomputed in this run: every UTC day on which a user has a
    purchase or spins row whose current silver version was landed inside the run's window. A refund of a
    week-old purchase therefore reopens that week-old day, and only that day. Whole user-days are
    recomputed, never single hours, so total_revenue_per_user_daily is never partial. -#}

with

changed_purchases as (

    select user_id, cast(purchase_hour as date) as activity_date
    from {{ cadence.relation_or_empty(ref('purchases'), cadence.silver_purchases_columns()) }} as purchases
    where {{ cadence.changed_in_window('landed_window_end') }}

),

changed_spins as (

    select user_id, cast(app_hour as date) as activity_date
    from {{ ref('spins_hourly') }}
    where {{ cadence.changed_in_window('landed_window_end') }}

),

final as (

    select distinct user_id, activity_date
    from (
        select * from changed_purchases
        union all
        select * from changed_spins
    ) as changed

)

select * from final
