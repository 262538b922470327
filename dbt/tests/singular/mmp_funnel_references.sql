{#- Every click follows an impression, and every attributed install or reinstall a click: the referenced
    event exists, has the right type and happened no later. Organic installs follow nothing (staging tests
    that they have no click). Returns the events that break this. -#}
with

events as (

    select * from {{ ref('stg_mmp_events') }}

),

children as (

    select
        event_id,
        event_type,
        event_time,
        case when event_type = 'click' then impression_id else click_id end as parent_id,
        case when event_type = 'click' then 'impression' else 'click' end as parent_type
    from events
    where event_type != 'impression' and partner != 'organic'

)

select children.event_id, children.event_type, children.parent_id
from children
left join events as parents
    on children.parent_id = parents.event_id
where parents.event_id is null
    or parents.event_type != children.parent_type
    or parents.event_time > children.event_time
