{{ config(materialized='table', schema='gold_staging') }}

{#- The user-days whose gold rows this run recomputes and replaces whole: every UTC day on which a user has
    a purchase or spins row whose current silver version landed inside the run's window, and every user-day
    a purchase left because a version landed in the window replaced it (another user, hour, day or country:
    purchases_superseded). A refund of a week-old purchase reopens that week-old day; a purchase moved from
    one user to another reopens both users' days. When gold is rebuilt whole (a full refresh, or no
    published gold yet) every user-day is recomputed. -#}
-- depends_on: {{ ref('purchases_superseded') }}

{%- set rebuild_all = cadence.gold_rebuilds_all() %}

with

changed_purchases as (

    select user_id, cast(purchase_hour as date) as activity_date
    from {{ cadence.relation_or_empty(ref('purchases'), cadence.silver_purchases_columns()) }} as purchases
    where {{ 'true' if rebuild_all else cadence.changed_in_window('landed_window_end') }}

),

previous_purchase_versions as (

    select user_id, cast(purchase_hour as date) as activity_date
    from {{ cadence.relation_or_empty(ref('purchases_superseded'), cadence.purchases_superseded_columns()) }}
        as superseded
    where {{ 'false' if rebuild_all else cadence.changed_in_window('superseded_window_end') }}

),

changed_spins as (

    select user_id, cast(app_hour as date) as activity_date
    from {{ ref('spins_hourly') }}
    where {{ 'true' if rebuild_all else cadence.changed_in_window('landed_window_end') }}

),

final as (

    select distinct user_id, activity_date
    from (
        select * from changed_purchases
        union all
        select * from previous_purchase_versions
        union all
        select * from changed_spins
    ) as changed

)

select * from final
