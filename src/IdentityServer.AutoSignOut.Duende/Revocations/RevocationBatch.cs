namespace AutoSignOut.IdentityServer.Duende;

/// <summary>One client's part in a revocation seen inside Duende.</summary>
/// <param name="Subject">The subject, when known.</param>
/// <param name="SessionId">The session, when known.</param>
/// <param name="ClientId">The client.</param>
/// <param name="Reason">Why.</param>
/// <param name="EndsSession">Whether Duende ended the session itself (logout, expiry, removal), which outranks a grant removal.</param>
internal readonly record struct RevocationTarget(string? Subject, string? SessionId, string ClientId, string Reason, bool EndsSession);

/// <summary>
/// Collects what one Duende operation revokes, so that it becomes one notification per client however many stores
/// that operation touches (a logout removes grants, then calls back-channel logout; the revocation endpoint removes a
/// refresh token, then the reference tokens of its session). The outermost operation flushes; inner ones join it. An
/// operation that removes grants without revoking anything (refresh-token rotation) opens an ignoring batch.
/// </summary>
internal sealed class RevocationBatch
{
    private static readonly AsyncLocal<RevocationBatch?> Ambient = new();

    private readonly List<RevocationTarget> _targets = [];
    private readonly RevocationBatch? _outer;

    private RevocationBatch(bool ignoring, string? reason, RevocationBatch? outer)
    {
        Ignoring = ignoring;
        Reason = reason;
        _outer = outer;
    }

    /// <summary>The batch of the running operation, if any.</summary>
    public static RevocationBatch? Current => Ambient.Value;

    /// <summary>Whether removals in this batch are not revocations.</summary>
    public bool Ignoring { get; }

    /// <summary>A reason that overrides the targets' own (an admin operation), or <see langword="null"/>.</summary>
    public string? Reason { get; }

    /// <summary>
    /// Starts collecting, or joins the running batch. Returns the new batch to flush, or <see langword="null"/> when it
    /// joined one (the outer operation flushes).
    /// </summary>
    public static RevocationBatch? Begin(string? reason = null)
    {
        if (Ambient.Value is not null)
        {
            return null;
        }

        var batch = new RevocationBatch(ignoring: false, reason ?? AutoSignOutRevocationReason.Current, outer: null);
        Ambient.Value = batch;
        return batch;
    }

    /// <summary>Starts a batch whose removals notify nobody, until <see cref="End"/>.</summary>
    public static RevocationBatch BeginIgnoring()
    {
        var batch = new RevocationBatch(ignoring: true, reason: null, outer: Ambient.Value);
        Ambient.Value = batch;
        return batch;
    }

    /// <summary>Adds a target (dropped in an ignoring batch).</summary>
    public void Add(RevocationTarget target)
    {
        if (Ignoring)
        {
            return;
        }

        lock (_targets)
        {
            _targets.Add(Reason is null ? target : target with { Reason = Reason });
        }
    }

    /// <summary>Restores the batch that was running before this one.</summary>
    public void End() => Ambient.Value = _outer;

    /// <summary>
    /// The collected targets as engine revocations: one per (subject, session, reason), each naming its clients; where
    /// a client was both in an ended session and in a removed grant of that session, the session's reason wins.
    /// </summary>
    public IReadOnlyList<Revocation> ToRevocations()
    {
        List<RevocationTarget> targets;
        lock (_targets)
        {
            targets = [.. _targets];
        }

        var perClient = new Dictionary<(string?, string?, string), RevocationTarget>();
        foreach (var target in targets)
        {
            var key = (target.Subject, target.SessionId, target.ClientId);
            if (!perClient.TryGetValue(key, out var seen) || (target.EndsSession && !seen.EndsSession))
            {
                perClient[key] = target;
            }
        }

        // A grant without a session (sub only) is covered by an ended session of the same subject and client: the
        // logout token for the session already closes what that client opened with it.
        return [.. perClient.Values
            .Where(t => t.SessionId is not null || !perClient.Values.Any(o => o.EndsSession && o.Subject == t.Subject && o.ClientId == t.ClientId))
            .GroupBy(t => (t.Subject, t.SessionId, t.Reason))
            .Select(g => new Revocation
            {
                Subject = g.Key.Subject,
                SessionId = g.Key.SessionId,
                Reason = g.Key.Reason,
                ClientIds = [.. g.Select(t => t.ClientId).Distinct(StringComparer.Ordinal)],
            })];
    }
}
