{#
    The newest delivered version of each key of a raw feed. Ingest keeps one version per key and
    dt partition (a re-delivered partition replaces only its own rows), so "newest wins" across
    deliveries is decided here: the latest `updated_column` (feeds that have one), then the latest
    partition, then the last file and row. Portable SQL (no QUALIFY): DuckDB and Spark alike.
#}

{% macro newest_version(relation, key_columns, updated_column=none, where=none) -%}
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
        from {{ relation }}
        {%- if where %}
        where {{ where }}
        {%- endif %}
    ) as versions
    where _version_rank = 1
{%- endmacro %}
