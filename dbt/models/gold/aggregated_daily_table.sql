{{
    config(
        unique_key=['app_date', 'user_id', 'country'],
        incremental_strategy='merge',
        tags=['gold'],
    )
}}

{#- Daily user metrics per country, summed from the hourly gold table for the recomputed user-days. -#}
-- depends_on: {{ ref('changed_user_days') }}

with

hourly as (

    select aggregated_final_table.*
    from {{ ref('aggregated_final_table') }} as aggregated_final_table
    {% if is_incremental() %}
    inner join {{ ref('changed_user_days') }} as changed_user_days
        on aggregated_final_table.user_id = changed_user_days.user_id
        and aggregated_final_table.app_date = changed_user_days.activity_date
    {% endif %}

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
