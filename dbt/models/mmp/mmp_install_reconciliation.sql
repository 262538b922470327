{#- MMP installs (attributed + organic) against the players the game saw for the first time, per
    day × platform × partner over the days the MMP data covers, with the users behind every difference.

    One row per user first: their first MMP install (day, platform, partner; organic installs have partner
    'organic') and their first-seen day in the game (earliest silver spins hour or purchase). A user's row
    key comes from their install, so a matched user counts on both sides of the same row; a game user the
    MMP never reported has partner 'no_mmp_install' and the platform of their first purchase, else
    'unknown'. Then both sides per row, and how each user that is not matched the same day is explained:
      mmp_installs     = matched_users + installs_first_seen_later + installs_not_seen
                         + installs_first_seen_earlier
      first_seen_users = matched_users + first_seen_installed_earlier + first_seen_installed_later
                         + first_seen_without_install
    With the simulator's one timeline (install, first session minutes later, first spin in that hour) the
    residue is players whose first session crosses midnight, whose first spins row was quarantined, or who
    installed minutes before the data ends.

    A table, rebuilt each run: a first-seen day is a property of a user's whole history, and one late row
    or a correction can move it. Before spins or purchases were ever built the game side is empty. -#}

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

installs as (

    select user_id, install_date, platform, partner
    from (
        select
            user_id,
            event_date as install_date,
            platform,
            partner,
            row_number() over (partition by user_id order by event_time, event_id) as install_number
        from mmp_events
        where event_type = 'install'
    ) as ranked
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

users as (

    select
        installs.install_date,
        first_seen.first_seen_date,
        coalesce(installs.platform, first_purchase_platform.platform, 'unknown') as platform,
        coalesce(installs.partner, 'no_mmp_install') as partner
    from installs
    full outer join first_seen on installs.user_id = first_seen.user_id
    left join first_purchase_platform
        on coalesce(installs.user_id, first_seen.user_id) = first_purchase_platform.user_id

),

install_side as (

    select
        install_date,
        platform,
        partner,
        {{ cadence.count_where("partner != 'organic'") }} as attributed_installs,
        {{ cadence.count_where("partner = 'organic'") }} as organic_installs,
        {{ cadence.count_where("first_seen_date = install_date") }} as matched_users,
        {{ cadence.count_where("first_seen_date > install_date") }} as installs_first_seen_later,
        {{ cadence.count_where("first_seen_date is null") }} as installs_not_seen,
        {{ cadence.count_where("first_seen_date < install_date") }} as installs_first_seen_earlier
    from users
    where install_date is not null
    group by install_date, platform, partner

),

seen_side as (

    select
        users.first_seen_date as install_date,
        users.platform,
        users.partner,
        cast(count(*) as {{ dbt.type_bigint() }}) as first_seen_users,
        {{ cadence.count_where("users.install_date < users.first_seen_date") }} as first_seen_installed_earlier,
        {{ cadence.count_where("users.install_date > users.first_seen_date") }} as first_seen_installed_later,
        {{ cadence.count_where("users.install_date is null") }} as first_seen_without_install
    from users
    cross join mmp_days
    where users.first_seen_date between mmp_days.first_day and mmp_days.last_day
    group by users.first_seen_date, users.platform, users.partner

),

joined as (

    select
        coalesce(install_side.install_date, seen_side.install_date) as install_date,
        coalesce(install_side.platform, seen_side.platform) as platform,
        coalesce(install_side.partner, seen_side.partner) as partner,
        coalesce(install_side.attributed_installs, 0) as attributed_installs,
        coalesce(install_side.organic_installs, 0) as organic_installs,
        coalesce(seen_side.first_seen_users, 0) as first_seen_users,
        coalesce(install_side.matched_users, 0) as matched_users,
        coalesce(install_side.installs_first_seen_later, 0) as installs_first_seen_later,
        coalesce(install_side.installs_not_seen, 0) as installs_not_seen,
        coalesce(install_side.installs_first_seen_earlier, 0) as installs_first_seen_earlier,
        coalesce(seen_side.first_seen_installed_earlier, 0) as first_seen_installed_earlier,
        coalesce(seen_side.first_seen_installed_later, 0) as first_seen_installed_later,
        coalesce(seen_side.first_seen_without_install, 0) as first_seen_without_install
    from install_side
    full outer join seen_side
        on install_side.install_date = seen_side.install_date
        and install_side.platform = seen_side.platform
        and install_side.partner = seen_side.partner

),

final as (

    select
        -- key
        install_date,
        platform,
        partner,

        -- the two sides
        attributed_installs,
        organic_installs,
        attributed_installs + organic_installs as mmp_installs,
        first_seen_users,
        attributed_installs + organic_installs - first_seen_users as difference,
        round(
            100 * {{ cadence.safe_divide('attributed_installs + organic_installs - first_seen_users',
                                         'first_seen_users') }}, 2
        ) as difference_pct,

        -- the users behind the difference
        matched_users,
        installs_first_seen_later,
        installs_not_seen,
        installs_first_seen_earlier,
        first_seen_installed_earlier,
        first_seen_installed_later,
        first_seen_without_install,
        {{ cadence.reconciliation_discrepancy() }} as discrepancy
    from joined

)

select * from final
