{#- A user's install day is a day they were active, and they were never active before it; their last
    activity is not before it. Returns the offending users. -#}
select installs.user_id
from {{ ref('installs') }} as installs
left join {{ ref('last_activity') }} as last_activity on installs.user_id = last_activity.user_id
where last_activity.last_activity < installs.install_date
    or not exists (
        select 1 from {{ ref('daily_user_panel') }} as panel
        where panel.user_id = installs.user_id and panel.activity_date = installs.install_date
    )
    or exists (
        select 1 from {{ ref('daily_user_panel') }} as panel
        where panel.user_id = installs.user_id and panel.activity_date < installs.install_date
    )
