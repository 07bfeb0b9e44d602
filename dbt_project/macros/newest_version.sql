{#
    The newest delivered version of each key of a raw feed. Ingest keeps one version per key and
    dt partition (a re-delivered partition replaces only its own rows), so "newest wins" across
    deliveries is decided here: the latest `updated_column` (feeds that have one), then the latest
    partition, then the last file and row. Most keys have a single version, so only the keys
    delivered more than once are ranked (a narrow aggregate finds them); the rows of every other
    key pass through. Keys are never null (ingest quarantines a row missing one), so plain
    equality matches them. Portable SQL (no QUALIFY): DuckDB and Spark alike.
#}

{% macro newest_version(relation, key_columns, updated_column=none, where=none) -%}
    {%- set key_match -%}
        {% for key in key_columns %}{% if not loop.first %} and {% endif -%}
            repeated_keys.{{ key }} = versions.{{ key }}
        {%- endfor %}
    {%- endset -%}
    with

    versions as (
        select *
        from {{ relation }}
        {%- if where %}
        where {{ where }}
        {%- endif %}
    ),

    repeated_keys as (
        select {{ key_columns | join(', ') }}
        from versions
        group by {{ key_columns | join(', ') }}
        having count(*) > 1
    )

    select
        *,
        1 as _version_rank
    from versions
    where not exists (select 1 from repeated_keys where {{ key_match }})

    union all

    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by
                    {% if updated_column %}{{ updated_column }} desc nulls last, {% endif -%}
                    _partition_dt desc, _source_file desc, _source_row desc
            ) as _version_rank
        from versions
        where exists (select 1 from repeated_keys where {{ key_match }})
    ) as ranked
    where _version_rank = 1
{%- endmacro %}
