{{
    config(
        **cadence.kpis_replace_days('activity_date'),
    )
}}

{#- One row per user and UTC day with any activity: spins, or a purchase (even one refunded later), read
    from gold daily user metrics. The run's days are recomputed whole and replace the stored days.

    Slicing attributes, decided per user-day so a recomputed day never depends on later data:
    - country: the user's country with the most events that day (alphabetically first on a tie);
    - platform: spins carry none, so it is the platform of the user's latest purchase made on or before
      that day (any status), else 'unknown'. -#}

{%- set window = cadence.kpis_window() %}

with

gold_daily as (

    select * from {{ ref('aggregated_daily_table') }}
    where {{ cadence.kpis_days_between('app_date', window) }}

),

purchases as (

    select
        user_id,
        platform,
        purchased_at,
        transaction_id,
        cast(purchase_hour as date) as purchase_date
    from {{ ref('purchases') }}

),

user_days as (

    select
        app_date as activity_date,
        user_id,
        sum(total_spins_daily) as total_spins,
        sum(total_purchases_daily) as total_purchases,
        sum(total_coins_bet_daily) as total_coins_bet,
        sum(total_coins_won_daily) as total_coins_added,
        sum(total_revenue_daily) as revenue_usd
    from gold_daily
    group by app_date, user_id

),

countries as (

    select
        app_date as activity_date,
        user_id,
        country,
        row_number() over (
            partition by app_date, user_id
            order by total_spins_daily + total_purchases_daily desc, country
        ) as country_rank
    from gold_daily

),

platforms as (

    select
        user_days.activity_date,
        user_days.user_id,
        purchases.platform,
        row_number() over (
            partition by user_days.activity_date, user_days.user_id
            order by purchases.purchased_at desc, purchases.transaction_id desc
        ) as platform_rank
    from user_days
    inner join purchases
        on user_days.user_id = purchases.user_id
        and user_days.activity_date >= purchases.purchase_date

),

final as (

    select
        -- grain
        user_days.activity_date,
        user_days.user_id,

        -- slicing attributes
        countries.country,
        coalesce(platforms.platform, 'unknown') as platform,

        -- activity
        cast(user_days.total_spins as {{ cadence.double_type() }}) as total_spins,
        user_days.total_purchases,
        cast(user_days.total_spins + user_days.total_purchases as {{ cadence.double_type() }}) as total_events,
        user_days.total_coins_bet,
        user_days.total_coins_added,
        cast(user_days.revenue_usd as {{ cadence.money_type() }}) as revenue_usd

    from user_days
    inner join countries
        on user_days.activity_date = countries.activity_date
        and user_days.user_id = countries.user_id
        and countries.country_rank = 1
    left join platforms
        on user_days.activity_date = platforms.activity_date
        and user_days.user_id = platforms.user_id
        and platforms.platform_rank = 1

)

select * from final
