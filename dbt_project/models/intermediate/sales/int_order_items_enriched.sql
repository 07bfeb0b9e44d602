{{ config(**incremental_config(
    rebuilds="order_id in (select order_id from {{ ref('int_batch_orders') }})"
)) }}
-- depends_on: {{ ref('int_batch_orders') }}
{%- set touched_orders_only %}
{%- if is_incremental() %}
    where order_id in (select order_id from {{ ref('int_batch_orders') }})
{%- endif %}
{%- endset %}

-- One row per order line with its product's category, the order's facts (business day, month,
-- platform, paid / cancelled flags, from int_order_facts) and the line's share of the order
-- value. allocated_order_value spreads order_value (merchandise - discount + shipping) over the
-- lines in proportion to their line_amount, rounded to cents so that the lines of an order add
-- up to its order_value exactly: each line gets the rounded cumulative share up to it minus the
-- rounded cumulative share before it. Category and product revenue therefore add up to the
-- paid_revenue of daily_sales.
-- Incremental: the lines of the orders the batch touches (int_batch_orders: by an order row or
-- by a product row) are rebuilt.

with

order_items as (

    select * from {{ ref('stg_shop__order_items') }}
    {{- touched_orders_only }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

orders as (

    select * from {{ ref('int_order_facts') }}
    {{- touched_orders_only }}

),

lines as (

    -- the running sums on the narrow lines, before the join, in one window pass: the lines
    -- up to this one and the lines before it
    select
        order_items.*,
        sum(order_items.line_amount) over (
            partition by order_items.order_id
            order by order_items.line_number
            rows between unbounded preceding and current row
        ) as cumulative_line_amount,
        sum(order_items.line_amount) over (
            partition by order_items.order_id
            order by order_items.line_number
            rows between unbounded preceding and 1 preceding
        ) as preceding_line_amount,
        row_number() over (
            partition by order_items.order_id
            order by order_items.line_number
        ) as cumulative_line_count
    from order_items

),

joined as (

    select
        lines.order_item_id,
        lines.order_id,
        lines.line_number,
        lines.product_id,
        coalesce(products.category, 'unknown') as category,
        lines.quantity,
        lines.unit_price,
        lines.line_amount,
        lines.cumulative_line_amount,
        lines.preceding_line_amount,
        lines.cumulative_line_count,
        orders.customer_id,
        orders.order_date,
        orders.platform,
        orders.is_paid,
        orders.is_cancelled,
        orders.line_count,
        orders.merchandise_value,
        orders.order_value
    from lines
    inner join orders
        on lines.order_id = orders.order_id
    left join products
        on lines.product_id = products.product_id

),

cumulated as (

    select
        joined.*,
        -- Rounded order value allocated to this line and the ones before it, and to the ones
        -- before it (0 for the first line); by line count when the order's merchandise value
        -- is 0 (free items only).
        cast(
            round(
                cast(joined.order_value as double) * coalesce(
                    {{ safe_divide('joined.cumulative_line_amount', 'joined.merchandise_value') }},
                    {{ safe_divide('joined.cumulative_line_count', 'joined.line_count') }}
                ),
                2
            ) as {{ type_money() }}
        ) as cumulative_allocated_value,
        case
            when joined.cumulative_line_count = 1 then 0
            else
                cast(
                    round(
                        cast(joined.order_value as double) * coalesce(
                            {{ safe_divide(
                                'joined.preceding_line_amount', 'joined.merchandise_value'
                            ) }},
                            {{ safe_divide(
                                'joined.cumulative_line_count - 1', 'joined.line_count'
                            ) }}
                        ),
                        2
                    ) as {{ type_money() }}
                )
        end as preceding_allocated_value
    from joined

),

final as (

    select
        order_item_id,
        order_id,
        line_number,
        product_id,
        category,
        quantity,
        unit_price,
        cast(line_amount as {{ type_money() }}) as line_amount,
        cast(
            cumulative_allocated_value - preceding_allocated_value as {{ type_money() }}
        ) as allocated_order_value,
        customer_id,
        order_date,
        cast({{ dbt.date_trunc('month', 'order_date') }} as date) as order_month,
        platform,
        is_paid,
        is_cancelled
    from cumulated

)

select * from final
