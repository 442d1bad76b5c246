// A small chat client for the app's SignalR hub: the JSON hub protocol over a WebSocket, no library needed.
// The cookie authenticates the WebSocket; AutoSignOut's hub filter sends 'signedOut' and closes it on revocation.
(() => {
  const RS = '\x1e';

  class ChatBox extends HTMLElement {
    connectedCallback() {
      if (this.log) {
        return;
      }
      this.innerHTML =
        '<ul class="chat-log" data-testid="chat-log"></ul>' +
        '<form class="row"><input name="text" maxlength="500" autocomplete="off" placeholder="Say something" data-testid="chat-input">' +
        '<button type="submit" data-testid="chat-send">Send</button></form>' +
        '<p class="muted" data-testid="chat-status">connecting…</p>';
      this.log = this.querySelector('ul');
      this.status = this.querySelector('p');
      this.querySelector('form').addEventListener('submit', e => {
        e.preventDefault();
        const input = e.target.elements.text;
        if (input.value.trim()) {
          this.invoke('Send', input.value);
          input.value = '';
        }
      });
      this.connect();
    }

    disconnectedCallback() {
      this.closing = true;
      clearInterval(this.pinger);
      this.socket?.close();
    }

    connect() {
      const url = new URL(this.getAttribute('hub'), document.baseURI);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      const socket = this.socket = new WebSocket(url);
      socket.onopen = () => {
        socket.send(JSON.stringify({ protocol: 'json', version: 1 }) + RS);
        this.pinger = setInterval(() => socket.send(JSON.stringify({ type: 6 }) + RS), 15000);
      };
      socket.onmessage = e => {
        for (const frame of String(e.data).split(RS)) {
          if (frame) {
            this.handle(JSON.parse(frame));
          }
        }
      };
      socket.onclose = () => {
        clearInterval(this.pinger);
        if (!this.closing && this.status.dataset.state !== 'signed-out') {
          this.setStatus('disconnected', 'disconnected');
        }
      };
    }

    handle(message) {
      if (message.type === undefined) {
        this.setStatus(message.error ? 'error: ' + message.error : 'connected', message.error ? 'error' : 'connected');
      } else if (message.type === 1 && message.target === 'receive') {
        const [user, text] = message.arguments;
        const item = document.createElement('li');
        const who = document.createElement('strong');
        who.textContent = user;
        item.append(who, ' ', text);
        this.log.append(item);
        this.log.scrollTop = this.log.scrollHeight;
      } else if (message.type === 1 && message.target === 'signedOut') {
        this.setStatus('signed out (' + (message.arguments[0] ?? 'session ended') + ')', 'signed-out');
      } else if (message.type === 7) {
        if (this.status.dataset.state !== 'signed-out') {
          this.setStatus('closed' + (message.error ? ': ' + message.error : ''), 'closed');
        }
      }
    }

    invoke(target, ...args) {
      if (this.socket?.readyState === WebSocket.OPEN) {
        this.socket.send(JSON.stringify({ type: 1, target, arguments: args }) + RS);
      }
    }

    setStatus(text, state) {
      this.status.textContent = text;
      this.status.dataset.state = state;
    }
  }

  if (!customElements.get('chat-box')) {
    customElements.define('chat-box', ChatBox);
  }
})();
