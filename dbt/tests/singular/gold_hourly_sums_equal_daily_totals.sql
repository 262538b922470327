{#- Every daily row equals the sum of its hourly rows, and every hourly row of a user-day carries that
    user-day's whole revenue. Returns the offending user-days. -#}
with

hourly as (

    select
        app_date,
        user_id,
        country,
        sum(total_spins_hourly) as spins,
        sum(total_purchases_hourly) as purchases,
        sum(total_revenue_hourly) as revenue
    from {{ ref('gold_hourly_staged') }}
    group by app_date, user_id, country

),

mismatched_days as (

    select daily.app_date, daily.user_id, daily.country
    from {{ ref('gold_daily_staged') }} as daily
    full outer join hourly
        on daily.app_date = hourly.app_date
        and daily.user_id = hourly.user_id
        and daily.country = hourly.country
    where daily.app_date is null
        or hourly.app_date is null
        or daily.total_spins_daily != hourly.spins
        or daily.total_purchases_daily != hourly.purchases
        or daily.total_revenue_daily != hourly.revenue

),

user_day_revenue as (

    select app_date, user_id, sum(total_revenue_hourly) as revenue
    from {{ ref('gold_hourly_staged') }}
    group by app_date, user_id

),

partial_daily_revenue as (

    select hourly_rows.app_date, hourly_rows.user_id, hourly_rows.country
    from {{ ref('gold_hourly_staged') }} as hourly_rows
    inner join user_day_revenue
        on hourly_rows.app_date = user_day_revenue.app_date
        and hourly_rows.user_id = user_day_revenue.user_id
    where hourly_rows.total_revenue_per_user_daily != user_day_revenue.revenue

)

select * from mismatched_days
union all
select * from partial_daily_revenue
