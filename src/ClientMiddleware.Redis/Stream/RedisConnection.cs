using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AutoSignOut.AspNetCore.Redis;

/// <summary>The one Redis connection of the node, made on first use and kept; keys and channel named from the prefix.</summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private readonly AutoSignOutRedisOptions _options;
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private IConnectionMultiplexer? _multiplexer;
    private bool _owned;

    public RedisConnection(IOptions<AutoSignOutRedisOptions> options)
    {
        _options = options.Value;
        StreamKey = _options.KeyPrefix + "signals";
        Channel = RedisChannel.Literal(_options.KeyPrefix + "signals:new");
        ReplayKeyPrefix = _options.KeyPrefix + "replay:";
    }

    public RedisKey StreamKey { get; }

    public RedisChannel Channel { get; }

    public string ReplayKeyPrefix { get; }

    /// <summary>The connection if made, else <see langword="null"/> (request paths never wait for one).</summary>
    public IConnectionMultiplexer? Current => Volatile.Read(ref _multiplexer);

    public async ValueTask<IConnectionMultiplexer> GetAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _multiplexer) is { } existing)
        {
            return existing;
        }

        await _connecting.WaitAsync(cancellationToken);
        try
        {
            if (_multiplexer is { } made)
            {
                return made;
            }

            IConnectionMultiplexer multiplexer;
            if (_options.ConnectionMultiplexerFactory is { } factory)
            {
                multiplexer = await factory();
            }
            else
            {
                var configuration = ConfigurationOptions.Parse(_options.Configuration!);
                var timeout = (int)_options.OperationTimeout.TotalMilliseconds;
                configuration.AbortOnConnectFail = false;
                configuration.BacklogPolicy = BacklogPolicy.FailFast;
                configuration.ConnectTimeout = timeout;
                configuration.AsyncTimeout = timeout;
                configuration.SyncTimeout = timeout;
                configuration.ClientName ??= "autosignout";
                multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration);
                _owned = true;
            }

            Volatile.Write(ref _multiplexer, multiplexer);
            return multiplexer;
        }
        finally
        {
            _connecting.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_owned && _multiplexer is { } multiplexer)
        {
            await multiplexer.DisposeAsync();
        }

        _connecting.Dispose();
    }
}
