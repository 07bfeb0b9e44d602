{#
    Member tier by activity and spend (kpi-catalog section 8 member_tier_by_activity): a tier
    needs member_tier's net spend threshold AND at least var tier_min_active_months months with a
    paid order; a customer short of either gets the highest tier whose both conditions hold,
    else regular. NULL spend or months count as 0.
#}

{% macro activity_tier(net_spend, active_months) -%}
    {{ return(adapter.dispatch('activity_tier')(net_spend, active_months)) }}
{%- endmacro %}

{% macro default__activity_tier(net_spend, active_months) -%}
    {%- set active = 'coalesce(' ~ active_months ~ ', 0) >= ' ~ var('tier_min_active_months') -%}
    {%- set spend = 'coalesce(' ~ net_spend ~ ', 0)' -%}
    case
        when {{ active }} and {{ spend }} >= {{ var('tier_platinum_min') }} then 'platinum'
        when {{ active }} and {{ spend }} >= {{ var('tier_gold_min') }} then 'gold'
        when {{ active }} and {{ spend }} >= {{ var('tier_silver_min') }} then 'silver'
        else 'regular'
    end
{%- endmacro %}
