namespace Elongate.Rope;

/// <summary>Whether a head vector is a query or a key; only xPos treats them differently (ζ^(+n) vs ζ^(−m)).</summary>
public enum RopeRole
{
    Query,
    Key,
}
