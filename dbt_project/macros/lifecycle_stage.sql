{#
    Lifecycle stage of a customer as of a date (kpi-catalog section 4), from the business dates
    of the customer's first and last paid order up to that date. First match wins:
    prospect (never paid) -> new (first paid order at most var lifecycle_new_days ago) ->
    active (last paid order at most var lifecycle_active_days ago) -> dormant (at most
    var lifecycle_dormant_days ago) -> churned. Defaults: 0-30 days new/active, 31-180 dormant,
    181+ churned.
#}

{% macro lifecycle_stage(first_paid_date, last_paid_date, as_of_date) -%}
    {{ return(adapter.dispatch('lifecycle_stage')(first_paid_date, last_paid_date, as_of_date)) }}
{%- endmacro %}

{% macro default__lifecycle_stage(first_paid_date, last_paid_date, as_of_date) -%}
    case
        when {{ last_paid_date }} is null then 'prospect'
        when {{ dbt.datediff(first_paid_date, as_of_date, 'day') }}
            <= {{ var('lifecycle_new_days') }} then 'new'
        when {{ dbt.datediff(last_paid_date, as_of_date, 'day') }}
            <= {{ var('lifecycle_active_days') }} then 'active'
        when {{ dbt.datediff(last_paid_date, as_of_date, 'day') }}
            <= {{ var('lifecycle_dormant_days') }} then 'dormant'
        else 'churned'
    end
{%- endmacro %}
