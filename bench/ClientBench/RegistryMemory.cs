using System.Security.Claims;
using AutoSignOut.AspNetCore;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.SignalR;

namespace AutoSignOut.Bench;

/// <summary>
/// Measures what AutoSignOut keeps per hub connection: the <c>HubLiveConnection</c>, its key array, its place in
/// the registry's buckets and the feature-collection entry, as the hub filter creates them.
/// </summary>
internal static class RegistryMemory
{
    public static double BytesPerConnection(int connections)
    {
        var principals = new ClaimsPrincipal[connections];
        var features = new IFeatureCollection[connections];
        for (var i = 0; i < connections; i++)
        {
            principals[i] = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "user-" + (i / 10)), new Claim("sid", "session-" + i)], "bench"));
            features[i] = new FeatureCollection();
            features[i].Set(new object());
        }

        var registry = new LiveConnectionRegistry();
        var caller = new NullCallerContext();
        var live = new LiveConnection[connections];
        var before = Measure();
        for (var i = 0; i < connections; i++)
        {
            var principal = principals[i];
            var connection = new HubLiveConnection(caller, null!, AutoSignOutDefaults.ClientMethod, AutoSignOutDefaults.FarewellTimeout, TimeProvider.System, principal.FindIssuer(), ConnectionKeyDefaults.FromPrincipal(principal), DateTimeOffset.UtcNow);
            registry.Register(connection);
            features[i].Set(connection);
            live[i] = connection;
        }

        var after = Measure();
        GC.KeepAlive(principals);
        GC.KeepAlive(features);
        GC.KeepAlive(live);
        GC.KeepAlive(registry);
        return (after - before) / (double)connections;
    }

    private static long Measure()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private sealed class NullCallerContext : HubCallerContext
    {
        public override string ConnectionId => "bench";

        public override string? UserIdentifier => null;

        public override ClaimsPrincipal? User => null;

        public override IDictionary<object, object?> Items => throw new NotSupportedException();

        public override IFeatureCollection Features => throw new NotSupportedException();

        public override CancellationToken ConnectionAborted => default;

        public override void Abort()
        {
        }
    }
}
