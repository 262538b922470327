{#- The reasons a day's MMP installs and first-seen players differ, as one text: each non-zero count of the
    reconciliation breakdown with what it means, one sentence each; 'reconciled' when every user matched.
    (No semicolons in the text: SQL checkers split statements on them.)
    Used by the per-partner and the daily reconciliation, so both explain a difference in the same words. -#}

{% macro reconciliation_reasons() -%}
    {{ return([
        ('installs_first_seen_later', 'installed, first seen on a later day'),
        ('installs_not_seen', 'installed, not seen in the game data yet'),
        ('installs_first_seen_earlier', 'installed, but seen in the game data on an earlier day'),
        ('first_seen_installed_earlier', 'first seen, installed on an earlier day'),
        ('first_seen_installed_later', 'first seen, MMP install on a later day'),
        ('first_seen_without_install', 'first seen, no MMP install (installed before the MMP data begins, or missed)'),
    ]) }}
{%- endmacro %}

{% macro reconciliation_discrepancy() -%}
    coalesce(nullif(rtrim(
        {%- for column, text in cadence.reconciliation_reasons() %}
        case
            when {{ column }} > 0
                then cast({{ column }} as {{ dbt.type_string() }}) || ' {{ text }}. '
            else ''
        end{% if not loop.last %} ||{% endif %}
        {%- endfor %}
    ), ''), 'reconciled')
{%- endmacro %}

{#- How many rows of the group meet `condition`, as a BIGINT on every warehouse. -#}
{% macro count_where(condition) -%}
    cast(sum(case when {{ condition }} then 1 else 0 end) as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- The sum of an integer column as a BIGINT (DuckDB sums integers into a 128-bit HUGEINT). -#}
{% macro sum_bigint(column) -%}
    cast(sum({{ column }}) as {{ dbt.type_bigint() }})
{%- endmacro %}
