{#- One row per user with the first (bound='min') or last (bound='max') UTC day they were active, as
    `column`. A run takes the bound over its window's days and over the stored value, so the first day
    only ever moves earlier and the last day only later: a backfill of old days never moves either the
    wrong way. The body of the installs and last_activity models. -#}
{% macro user_activity_bound(bound, column) -%}
    {%- if bound not in ('min', 'max') -%}
        {{ exceptions.raise_compiler_error("user_activity_bound: bound must be 'min' or 'max', got '" ~ bound ~ "'") }}
    {%- endif -%}
    {%- set window = cadence.kpis_window() %}

with

panel as (

    select user_id, activity_date
    from {{ ref('daily_user_panel') }}
    where {{ cadence.kpis_days_between('activity_date', window) }}

),

in_window as (

    select user_id, {{ bound }}(activity_date) as {{ column }}
    from panel
    group by user_id

),

candidates as (

    {{ cadence.with_stored_rows(
        'in_window', ['user_id', column], stored_where='user_id in (select user_id from in_window)') }}

),

final as (

    select
        user_id,
        {{ bound }}({{ column }}) as {{ column }}
    from candidates
    group by user_id

)

select * from final
{%- endmacro %}
