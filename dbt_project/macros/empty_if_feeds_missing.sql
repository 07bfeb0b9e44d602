{#
    Post-hook of every mart: empties the mart when a feed it cannot do without is not delivered.
    A mart names those feeds in config meta `requires_feeds` (dbt_project.yml); var
    `undelivered_feeds` (set by orchestration/deployment.py from the deployment config) lists the
    feeds the shop does not send. Without this a traffic mart of a shop without web tracking would
    be a row of zeros per day, which reads as "no visitors" rather than "not measured".
    Renders to nothing (no statement runs) when the mart has all it needs.
#}

{% macro empty_if_feeds_missing() -%}
    {%- set required = (model.config.get('meta') or {}).get('requires_feeds', []) -%}
    {%- set undelivered = var('undelivered_feeds', []) -%}
    {%- set missing = [] -%}
    {%- for feed in required if feed in undelivered -%}
        {%- do missing.append(feed) -%}
    {%- endfor -%}
    {%- if missing -%}
        delete from {{ this }} where true  -- not delivered: {{ missing | join(', ') }}
    {%- endif -%}
{%- endmacro %}
