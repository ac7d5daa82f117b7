console.log('vpnwatch: not yet');
