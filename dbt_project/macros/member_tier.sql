{#
    Member tier from a net spend amount (kpi-catalog section 4): platinum >= var
    tier_platinum_min, gold >= var tier_gold_min, silver >= var tier_silver_min, else regular.
    Thresholds are inclusive: a spend exactly on 2000 is silver. NULL spend counts as 0.
#}

{% macro member_tier(net_spend) -%}
    {{ return(adapter.dispatch('member_tier')(net_spend)) }}
{%- endmacro %}

{% macro default__member_tier(net_spend) -%}
    case
        when coalesce({{ net_spend }}, 0) >= {{ var('tier_platinum_min') }} then 'platinum'
        when coalesce({{ net_spend }}, 0) >= {{ var('tier_gold_min') }} then 'gold'
        when coalesce({{ net_spend }}, 0) >= {{ var('tier_silver_min') }} then 'silver'
        else 'regular'
    end
{%- endmacro %}
