{{ config(materialized='table', schema='gold_staging') }}

{#- Write-audit-publish, write step: daily user metrics per country of the recomputed user-days, summed
    from gold_hourly_staged; aggregated_daily_table publishes them once the audits pass. -#}

with

hourly as (

    select * from {{ ref('gold_hourly_staged') }}

),

final as (

    select
        app_date,
        user_id,
        country,
        count(*) as active_hours,
        sum(total_spins_hourly) as total_spins_daily,
        sum(total_coins_bet_hourly) as total_coins_bet_daily,
        sum(total_coins_won_hourly) as total_coins_won_daily,
        sum(total_purchases_hourly) as total_purchases_daily,
        cast(sum(total_revenue_hourly) as {{ cadence.money_type() }}) as total_revenue_daily
    from hourly
    group by app_date, user_id, country

)

select * from final
