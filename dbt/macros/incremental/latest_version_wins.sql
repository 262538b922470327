{#- Incremental models that compare what a run lands with what they already hold: silver purchases and spins
    (latest version wins), installs and last_activity (first / last activity). -#}

{#- The candidate rows of a merge: this run's rows (`landed`, a CTE name) and, on an incremental run, the
    stored rows of the model that `stored_where` selects, both as `columns` (a list of names). -#}
{% macro with_stored_rows(landed, columns, stored_where) -%}
    select {{ columns | join(', ') }} from {{ landed }}
    {%- if is_incremental() %}
    union all
    select {{ columns | join(', ') }}
    from {{ this }}
    where {{ stored_where }}
    {%- endif %}
{%- endmacro %}

{#- Latest version wins: the version rank of each candidate row of one business key (1 = the current version).
    The newest updated_at wins; the same version delivered twice keeps the window it first landed in, so a
    lookback or a rerun changes nothing. Silver purchases, spins and the superseded-versions model rank alike. -#}
{% macro version_rank(key_columns) -%}
    row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by updated_at desc, landed_window_end asc
    )
{%- endmacro %}

{#- The current version of every business key (`key_columns`) among this run's rows (`landed`, a CTE name)
    and the stored rows that `stored_where` selects (with_stored_rows), as `columns`: an older version
    replayed by a backfill never overwrites a newer one stored. -#}
{% macro latest_versions(landed, key_columns, columns, stored_where) -%}
    select {{ columns | join(', ') }}
    from (
        select
            candidates.*,
            {{ cadence.version_rank(key_columns) }} as version_rank
        from (
            {{ cadence.with_stored_rows(landed, columns, stored_where) }}
        ) as candidates
    ) as ranked
    where version_rank = 1
{%- endmacro %}
