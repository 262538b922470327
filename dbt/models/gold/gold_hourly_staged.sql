{{ config(materialized='table', schema='gold_staging') }}

{#- Write-audit-publish, write step: the hourly user metrics of exactly the user-days in changed_user_days,
    recomputed whole, at the grain app_hour × user_id × country. Spins and purchases are joined on the full
    grain (a purchase belongs to the hour it was made in and to the country of its own row), so an hour with
    purchases and no spins still has a row, with 0 spins. Its tests are the audit; aggregated_final_table
    publishes it only when they pass. -#}

with

changed_user_days as (

    select * from {{ ref('changed_user_days') }}

),

spins as (

    select spins_hourly.*
    from {{ ref('spins_hourly') }} as spins_hourly
    inner join changed_user_days
        on spins_hourly.user_id = changed_user_days.user_id
        and cast(spins_hourly.app_hour as date) = changed_user_days.activity_date

),

purchases as (

    select purchases.*
    from {{ cadence.relation_or_empty(ref('purchases'), cadence.silver_purchases_columns()) }} as purchases
    inner join changed_user_days
        on purchases.user_id = changed_user_days.user_id
        and cast(purchases.purchase_hour as date) = changed_user_days.activity_date

),

purchases_by_hour as (

    select
        purchase_hour as app_hour,
        user_id,
        country,
        sum(case when status = 'completed' then 1 else 0 end) as total_purchases,
        sum(net_revenue_usd) as total_revenue
    from purchases
    group by purchase_hour, user_id, country

),

joined as (

    select
        -- grain
        coalesce(spins.app_hour, purchases_by_hour.app_hour) as app_hour,
        coalesce(spins.user_id, purchases_by_hour.user_id) as user_id,
        coalesce(spins.country, purchases_by_hour.country) as country,

        -- spins
        coalesce(spins.total_spins, 0) as total_spins_hourly,
        coalesce(spins.coins_bet, 0) as total_coins_bet_hourly,
        coalesce(spins.coins_won, 0) as total_coins_won_hourly,

        -- purchases
        coalesce(purchases_by_hour.total_purchases, 0) as total_purchases_hourly,
        cast(coalesce(purchases_by_hour.total_revenue, 0) as {{ cadence.money_type() }}) as total_revenue_hourly

    from spins
    full outer join purchases_by_hour
        on spins.app_hour = purchases_by_hour.app_hour
        and spins.user_id = purchases_by_hour.user_id
        and spins.country = purchases_by_hour.country

),

final as (

    select
        app_hour,
        cast(app_hour as date) as app_date,
        user_id,
        country,
        total_spins_hourly,
        total_coins_bet_hourly,
        total_coins_won_hourly,
        total_purchases_hourly,
        total_revenue_hourly,
        round({{ cadence.safe_divide('total_revenue_hourly', 'total_purchases_hourly') }}, 4)
            as avg_revenue_per_purchase_hourly,
        sum(total_revenue_hourly) over (partition by user_id, cast(app_hour as date))
            as total_revenue_per_user_daily
    from joined

)

select * from final
