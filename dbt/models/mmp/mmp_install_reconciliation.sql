{#- MMP-attributed installs against the users the game saw for the first time, per day × platform × partner,
    over the days the MMP data covers.

    Game side: a user's first-seen day is their earliest activity in silver (a spins hour or a purchase).
    Silver spins carry no platform, so a user's platform is the one of their first purchase, else the one
    their MMP install reports (a user's platform never changes), else 'unknown'. Their partner is the one the
    MMP attributes their install to, else 'unattributed' (organic, or missed by the MMP).
    MMP side: install events (reinstalls are not new users) by the day, platform and partner of the event.

    A table, rebuilt each run: a first-seen day is a property of a user's whole history, and one late row
    can move it to an older day. Before spins or purchases were ever built the game side is empty. -#}

with

mmp_events as (

    select * from {{ ref('stg_mmp_events') }}

),

purchases as (

    select user_id, platform, purchased_at as seen_at
    from {{ cadence.relation_or_empty(ref('purchases'), {
        'user_id': dbt.type_string(), 'platform': dbt.type_string(), 'purchased_at': dbt.type_timestamp(),
    }) }} as purchases

),

spins as (

    select user_id, app_hour as seen_at
    from {{ cadence.relation_or_empty(ref('spins_hourly'), {
        'user_id': dbt.type_string(), 'app_hour': dbt.type_timestamp(),
    }) }} as spins_hourly

),

mmp_days as (

    select min(event_date) as first_day, max(event_date) as last_day
    from mmp_events

),

mmp_installs as (

    select
        event_date as install_date,
        platform,
        partner,
        count(*) as mmp_installs
    from mmp_events
    where event_type = 'install'
    group by event_date, platform, partner

),

attribution as (

    select user_id, partner, platform
    from (
        select
            user_id,
            partner,
            platform,
            row_number() over (partition by user_id order by event_time, event_id) as install_number
        from mmp_events
        where event_type = 'install'
    ) as installs
    where install_number = 1

),

first_purchase_platform as (

    select user_id, platform
    from (
        select
            user_id,
            platform,
            row_number() over (partition by user_id order by seen_at, platform) as purchase_number
        from purchases
    ) as ranked
    where purchase_number = 1

),

first_seen as (

    select user_id, cast(min(seen_at) as date) as first_seen_date
    from (
        select user_id, seen_at from purchases
        union all
        select user_id, seen_at from spins
    ) as activity
    group by user_id

),

first_seen_users as (

    select
        first_seen.first_seen_date as install_date,
        coalesce(first_purchase_platform.platform, attribution.platform, 'unknown') as platform,
        coalesce(attribution.partner, 'unattributed') as partner,
        count(*) as first_seen_users
    from first_seen
    cross join mmp_days
    left join first_purchase_platform on first_seen.user_id = first_purchase_platform.user_id
    left join attribution on first_seen.user_id = attribution.user_id
    where first_seen.first_seen_date between mmp_days.first_day and mmp_days.last_day
    group by 1, 2, 3

),

joined as (

    select
        coalesce(mmp_installs.install_date, first_seen_users.install_date) as install_date,
        coalesce(mmp_installs.platform, first_seen_users.platform) as platform,
        coalesce(mmp_installs.partner, first_seen_users.partner) as partner,
        coalesce(mmp_installs.mmp_installs, 0) as mmp_installs,
        coalesce(first_seen_users.first_seen_users, 0) as first_seen_users
    from mmp_installs
    full outer join first_seen_users
        on mmp_installs.install_date = first_seen_users.install_date
        and mmp_installs.platform = first_seen_users.platform
        and mmp_installs.partner = first_seen_users.partner

),

final as (

    select
        install_date,
        platform,
        partner,
        mmp_installs,
        first_seen_users,
        mmp_installs - first_seen_users as difference,
        round(100 * {{ cadence.safe_divide('mmp_installs - first_seen_users', 'first_seen_users') }}, 2)
            as difference_pct
    from joined

)

select * from final
